import GRDB
import WorkbenchCore

// The core's identifiers and statuses read from and written to columns as they are: statuses as
// their raw text, attempt ids as integers.
extension RunStatus: DatabaseValueConvertible {}
extension AttemptStatus: DatabaseValueConvertible {}

extension AttemptID: DatabaseValueConvertible {
    package var databaseValue: DatabaseValue { rawValue.databaseValue }

    package static func fromDatabaseValue(_ dbValue: DatabaseValue) -> AttemptID? {
        Int64.fromDatabaseValue(dbValue).map(AttemptID.init)
    }
}
