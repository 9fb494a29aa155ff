@testable import ProcessAttribution
import TestSupport

extension FakeProc {
    var fileSystem: ProcFileSystem { ProcFileSystem(root: root) }
}
