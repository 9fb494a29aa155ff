/// The version every Telltale executable reports with --version.
public let telltaleVersion = "0.1.0"
