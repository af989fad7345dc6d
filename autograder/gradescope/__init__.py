"""Gradescope: a bundle per assignment (bundle.py) that grades a submission with the same
clean-room checks and writes Gradescope's results.json (resultsjson.py). Each submission runs in
its own Gradescope container: the kit's path beyond one machine."""
