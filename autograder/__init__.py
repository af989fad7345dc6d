"""flatgrad's autograder: numeric gradient checks, per-assignment checks, nbgrader pipeline."""
