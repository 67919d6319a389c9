"""Verifying migrated data: tables compared across databases, and SQL assertions on the target.

Every query runs in a read-only transaction; `verify` never writes to the source or the target.
"""

from golive.verify.report import AssertionReport, RowDifference, TableReport, VerifyReport
from golive.verify.run import verify

__all__ = ["AssertionReport", "RowDifference", "TableReport", "VerifyReport", "verify"]
