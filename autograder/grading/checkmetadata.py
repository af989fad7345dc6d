"""nbgrader step: nbgrader's own cell-metadata check, with its JSON schema compiled once.

nbgrader's CheckCellMetadata calls jsonschema.validate for every cell, which checks and
compiles the schema each time: ~0.3 s per notebook, twice per autograde. The checks here are
nbgrader's (MetadataValidatorV3's rules and schema); the schema validator is compiled once, and a
cell whose type and nbgrader metadata already passed is not checked again (the rules read
nothing else): most cells are the same in every notebook, and each is seen twice (~10 ms).
"""
from __future__ import annotations

import json
import traceback

import jsonschema
from nbgrader.nbgraderformat.common import BaseMetadataValidator, SchemaTooNewError, SchemaTooOldError
from nbgrader.nbgraderformat.v3 import MetadataValidatorV3, ValidationError
from nbgrader.preprocessors import NbGraderPreprocessor


class _CompiledSchema(BaseMetadataValidator):
    _compiled = None

    def validate_cell(self, cell) -> None:
        if "nbgrader" not in cell.metadata:
            return
        schema = cell.metadata["nbgrader"].get("schema_version", 0)
        if schema < self.schema_version:
            raise SchemaTooOldError(f"Outdated schema version: {schema}", schema, self.schema_version)
        if schema > self.schema_version:
            raise SchemaTooNewError(f"Schema version is too new: {schema}", schema, self.schema_version)
        if _CompiledSchema._compiled is None:
            _CompiledSchema._compiled = jsonschema.validators.validator_for(self.schema)(self.schema)
        _CompiledSchema._compiled.validate(cell.metadata["nbgrader"])


_PASSED: set = set()  # (cell type, nbgrader metadata as JSON) that passed every rule


class FastMetadataValidator(MetadataValidatorV3, _CompiledSchema):
    """MetadataValidatorV3 whose schema step (its super().validate_cell) is _CompiledSchema's."""

    def validate_cell(self, cell) -> None:
        if "nbgrader" not in cell.metadata:
            return
        key = (cell.cell_type, json.dumps(cell.metadata["nbgrader"], sort_keys=True, default=repr))
        if key in _PASSED:
            return
        super().validate_cell(cell)
        if len(_PASSED) < 100_000:
            _PASSED.add(key)


class CheckCellMetadata(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        try:
            FastMetadataValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            raise ValidationError("Notebook failed to validate; the nbgrader metadata may be corrupted.")
        return nb, resources
