/// The workbench version, recorded with every run's environment and bundle.
package enum WorkbenchVersion {
    package static let current = "0.1.0"
}
