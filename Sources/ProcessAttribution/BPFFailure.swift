import CBPF
import Posix

extension telltale_failure {
    /// The failure in words: what failed, the system's message for its errno, then what follows
    /// ("BPF programs cannot be loaded: Operation not permitted (needs root or CAP_BPF+CAP_PERFMON)").
    /// Empty when nothing was said.
    var text: String {
        var copy = self
        let what = withUnsafeBytes(of: &copy.what) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let detail = withUnsafeBytes(of: &copy.detail) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard code != 0 else { return what + detail }
        return SystemError(what, code: code).description + detail
    }
}
