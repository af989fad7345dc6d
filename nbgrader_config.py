"""nbgrader settings for the flatgrad kit (the course root is this folder unless
`make grade COURSE=...` points elsewhere; that folder gets a config that loads this one)."""
c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "flatgrad"
c.CourseDirectory.source_directory = "assignments"
c.CourseDirectory.release_directory = "release"
# Helper files shipped next to each notebook; caches never travel.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store"]

# The stub students see where a solution region was.
c.ClearSolutions.code_stub = {
    "python": 'raise NotImplementedError("TODO(student): write this part (see the docstring)")'}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Execution while grading: a stuck cell is interrupted, the rest of the notebook still runs.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
c.Execute.allow_errors = True

# Feedback: the grade cells' hidden tests, and tracebacks quoting them, are removed
# before the HTML is written.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "autograder.grading.cleantracebacks.CleanGradeTracebacks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
