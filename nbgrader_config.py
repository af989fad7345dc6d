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

# Grading: nbgrader sanitizes the submission (outputs cleared, grade and read-only cells
# restored from the gradebook, deleted grade cells put back), then the clean room grades it:
# the student's answer cells run in a confined process, every verdict is decided in the
# grader's process (autograder/cleanroom). Nothing runs in a Jupyter kernel.
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "autograder.grading.overwritecells.CachedOverwriteCells",  # nbgrader's, gradebook read once
    "autograder.grading.restorecells.RestoreGradeCells",  # deleted test cells back, from the gradebook
    "autograder.grading.checkmetadata.CheckCellMetadata",  # nbgrader's check, schema compiled once
]
c.Autograde.autograde_preprocessors = [
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "autograder.grading.cleanroomgrade.CleanRoomGrade",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.grading.saveautogrades.BulkSaveAutoGrades",  # nbgrader's, one query, one commit
    "nbgrader.preprocessors.AssignLatePenalties",
    "autograder.grading.checkmetadata.CheckCellMetadata",
]
# nbconvert validates the whole notebook against its schema after every preprocessor
# (~17 times a notebook, 0.1 s); once, after the last one, is enough.
c.Exporter.optimistic_validation = True

# Limits per student notebook (see autograder/grading/cleanroomgrade.py for all settings).
c.CleanRoomGrade.cell_timeout = 30
c.CleanRoomGrade.call_timeout = 60
c.CleanRoomGrade.notebook_timeout = 600
c.CleanRoomGrade.memory_limit_mb = 2048

# Execution when nbgrader runs a notebook itself (validate): a stuck cell is interrupted.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
c.Execute.allow_errors = True

# Feedback: the grade cells' hidden tests, and tracebacks quoting them, are removed
# before the HTML is written.
# Student HTML (written answers, outputs) is made inert wherever nbconvert renders it: in
# feedback pages and in formgrader, whose own template renders markdown without nbconvert's
# sanitize step (autograder/grading/safehtml.py).
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.filters = {"clean_html": "autograder.grading.safehtml.clean_html",
                          "markdown2html": "autograder.grading.safehtml.SafeMarkdown"}
c.GenerateFeedback.exporter_class = "autograder.grading.feedbackhtml.QuickHTMLExporter"
c.GenerateFeedback.preprocessors = [
    "autograder.grading.getgrades.BulkGetGrades",  # nbgrader's, grades read at once
    "nbgrader.preprocessors.ClearHiddenTests",
    "autograder.grading.cleantracebacks.CleanGradeTracebacks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
