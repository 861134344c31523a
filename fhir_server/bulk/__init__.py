"""Bulk Data export (`$export`, https://hl7.org/fhir/uv/bulkdata/export.html), with de-identified extracts.

    exports = BulkExports(store=..., registry=..., jobs=..., config=BulkConfig.in_data_dir(data_dir))
    runtime.job_handlers.update(exports.job_handlers())
    for definition in DEFINITIONS: registry.register(definition, ExportOperation(exports))
"""

from fhir_server.bulk.access import DefaultExportGuard, ExportAudit, ExportGuard, log_sink
from fhir_server.bulk.config import BulkConfig
from fhir_server.bulk.export_operation import DEFINITIONS, ExportOperation
from fhir_server.bulk.manifest import file_path, status_path
from fhir_server.bulk.runner import CLEANUP, EXPORT
from fhir_server.bulk.service import BulkExports, ExportStatus

__all__ = ["BulkExports", "BulkConfig", "ExportStatus", "ExportOperation", "DEFINITIONS", "ExportGuard",
           "DefaultExportGuard", "ExportAudit", "log_sink", "EXPORT", "CLEANUP", "status_path", "file_path"]
