public import Policy
public import Posix

extension Baseline {
    /// Reads a baseline file, held to the same trust as rules files (owner, mode, no symbolic link).
    public static func load(path: String, checkTrust: Bool = true, time: (String) -> Int64?) throws(TrustedFile.Refusal) -> Baseline {
        let text = try TrustedFile.read(path, checkTrust: checkTrust, maximumSize: YAMLBounds.maximumSize)
        do {
            return try Baseline(parsing: text, time: time)
        } catch {
            throw TrustedFile.Refusal(path: path, message: error.description)
        }
    }
}
