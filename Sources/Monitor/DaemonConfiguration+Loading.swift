import Policy
import Posix

extension DaemonConfiguration {
    /// Reads and parses a configuration file, trusted only as the rules are (see `TrustedFile`): it
    /// decides what runs as root (`alerts.command`), so a file others can write, or a link to one,
    /// is refused before a byte of it is used.
    public static func load(file: String, checkTrust: Bool = true) throws(Problem) -> DaemonConfiguration {
        let text: String
        do {
            text = try TrustedFile.read(file, checkTrust: checkTrust, maximumSize: YAMLBounds.maximumSize)
        } catch {
            throw Problem(file: error.path, line: nil, message: error.message)
        }
        let configuration = try parse(text, file: file)
        // The alert hook runs as the daemon's user: a program others may write is as dangerous as
        // a configuration others may write, so it is refused the same way (and its directories).
        if checkTrust, let program = configuration.alertProgram, let refusal = TrustedFile.programProblem(program) {
            throw Problem(file: file, line: nil, message: "alerts.command: \(refusal)")
        }
        return configuration
    }
}
