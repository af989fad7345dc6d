"""The grading pipeline around nbgrader: an ordered list of small steps (see pipeline.py)."""
