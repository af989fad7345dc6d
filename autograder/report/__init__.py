"""The class report for the staff: reports/index.html, one self-contained page.

    classdata (gradebook + reports/*.csv -> typed records) -> stats, mistakes (numbers)
    -> plots (matplotlib PNGs) -> page (escaped HTML) -> build (writes the file)

`make grade` writes it as its last step; `make report` rebuilds it without grading.
"""
