public import ProcessAttribution
public import Reporting

extension FlowRow.Process {
    /// The contract's process object from an attributed identity.
    public init(_ identity: ProcessIdentity) {
        self.init(pid: Int(identity.pid))
        startTime = Int64(clamping: identity.startTime)
        exe = identity.exe
        sha256 = identity.sha256
        cmdline = identity.cmdline
        comm = identity.comm
        uid = Int(identity.uid)
        user = identity.user
        ppid = Int(identity.ppid)
        parentExe = identity.parentExe
        unit = identity.unit
        container = identity.container
        program = identity.program?.name
        programKind = identity.program?.kind.rawValue
    }
}

extension FlowRow {
    /// Fills `process` or `unattributedReason`.
    public mutating func apply(_ attribution: Attribution) {
        switch attribution {
        case .process(let identity):
            process = FlowRow.Process(identity)
            unattributedReason = nil
        case .unattributed(let reason):
            process = nil
            unattributedReason = reason.rawValue
        }
    }

    /// Fills `process` or `unattributedReason`, `attributionSource` and `peerProcess`.
    public mutating func apply(_ found: FlowAttribution) {
        apply(found.attribution)
        attributionSource = found.attribution.identity == nil ? nil : found.source?.rawValue
        peerProcess = found.peer.map(FlowRow.Process.init)
    }
}
