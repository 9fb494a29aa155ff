/// What a cgroup path says about a process: its systemd unit and its container. Pure.
public struct CgroupInfo: Sendable, Equatable {
    /// The innermost systemd service or scope (`ssh.service`, `app-firefox-1234.scope`).
    public var unit: String?
    /// A 64-hex-digit container id (Docker, Podman, containerd, CRI-O), or a 12+ hex id under `/docker/`.
    public var container: String?

    public init(unit: String? = nil, container: String? = nil) {
        self.unit = unit
        self.container = container
    }

    /// Derives unit and container from a cgroup path like `/system.slice/docker-<id>.scope`.
    public init(path: some StringProtocol) {
        let components = path.split(separator: "/")
        for component in components.reversed() {
            let name = String(component)
            if container == nil, let id = CgroupInfo.containerID(in: name) { container = id }
            if unit == nil, name.hasSuffix(".service") || name.hasSuffix(".scope") {
                // A container runtime's scope is named for the container, not a unit anyone starts.
                if CgroupInfo.containerID(in: name) == nil { unit = name }
            }
        }
        if unit == nil, container != nil {
            unit = components.last { $0.hasSuffix(".service") }.map { String($0) }
        }
    }

    /// The container id inside one path component: `docker-<id>.scope`, `libpod-<id>`,
    /// `cri-containerd-<id>.scope`, `crio-<id>.scope`, or a bare id.
    static func containerID(in component: String) -> String? {
        var name = Substring(component)
        if name.hasSuffix(".scope") { name = name.dropLast(6) }
        for prefix in ["docker-", "libpod-conmon-", "libpod-", "cri-containerd-", "crio-conmon-", "crio-", "containerd-"]
        where name.hasPrefix(prefix) {
            name = name.dropFirst(prefix.count)
            break
        }
        guard name.count == 64, name.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        return String(name)
    }
}

/// Packaging tags derived from an executable path and a cgroup path. Pure.
public enum PackagingTags {
    public static func of(exe: String?, cgroup: String?) -> [String] {
        var tags: [String] = []
        let exe = exe ?? ""
        let cgroup = cgroup ?? ""
        if cgroup.contains("app-flatpak-") || cgroup.contains("/flatpak-") || exe.hasPrefix("/app/") {
            tags.append("flatpak")
        }
        if exe.hasPrefix("/snap/") || cgroup.contains("/snap.") {
            tags.append("snap")
        }
        if exe.hasPrefix("/tmp/.mount_") || exe.contains("/.mount_") {
            tags.append("appimage")
        }
        return tags
    }
}
