"""flatgrad's autograder: numeric gradient checks, per-assignment checks, nbgrader pipeline."""
import sys

# jsonschema (under nbformat and nbgrader) imports rfc3987_syntax, when installed, for its
# "iri"/"iri-reference" format checkers, and that module builds its grammar at import: 3.2 s of
# the 5.8 s that `import nbgrader.apps` took here, in every grading process. No schema this kit
# validates uses those formats, so the optional module is marked absent (jsonschema then leaves
# those two formats unchecked) unless something imported it already.
sys.modules.setdefault("rfc3987_syntax", None)
