/// The version every Telltale executable reports with --version.
public let telltaleVersion = "0.2.0"
