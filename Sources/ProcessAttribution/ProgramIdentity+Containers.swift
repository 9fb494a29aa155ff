// Containers, named by their runtime's own metadata on the host. Each source is a bounded read
// (1 MiB) of a documented file; any failure moves on to the next, and none found leaves the
// process to be named by the other rules.

extension ProgramNamer {
    /// Where container runtimes keep what names their containers.
    enum ContainerMetadata {
        /// Docker: `config.v2.json` of each container, `"Name": "/open-webui"`.
        static func docker(_ id: String) -> String { "/var/lib/docker/containers/\(id)/config.v2.json" }
        /// Podman and CRI-O (containers/storage, rootful): container lists of `{"id", "names": […]}`,
        /// stable and volatile, under the graph root and, for transient stores, the run root.
        static let containerLists = [
            "/var/lib/containers/storage/overlay-containers/containers.json",
            "/var/lib/containers/storage/overlay-containers/volatile-containers.json",
            "/run/containers/storage/overlay-containers/containers.json",
            "/run/containers/storage/overlay-containers/volatile-containers.json",
        ]
        /// containerd's CRI plugin (Kubernetes): the OCI bundle's `config.json`, whose annotations
        /// carry the container's name, or the pod's for a sandbox.
        static func containerdBundle(_ id: String) -> String {
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/\(id)/config.json"
        }
        static let criNameAnnotations = ["io.kubernetes.cri.container-name", "io.kubernetes.cri.sandbox-name"]
    }

    /// The name a container runtime gives the container `id` (12 to 64 lowercase hex digits), or nil.
    /// Tried in turn: Docker, Podman/CRI-O, containerd CRI. Rootless runtimes keep their metadata
    /// in the user's home, which the daemon does not search.
    func containerName(id: String) -> String? {
        // The id becomes part of host paths: only hex digits may.
        guard (12...64).contains(id.utf8.count), id.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        if id.utf8.count == 64 {
            if let config = hostJSON(ContainerMetadata.docker(id)), let name = config["Name"]?.string {
                let trimmed = name.hasPrefix("/") ? String(name.dropFirst()) : name
                if Self.isContainerName(trimmed) { return trimmed }
            }
        }
        for list in ContainerMetadata.containerLists {
            guard case .array(let containers)? = hostJSON(list) else { continue }
            for container in containers {
                // A short id from a `/docker/<id>` cgroup matches the full one's prefix.
                guard let full = container["id"]?.string, full == id || (id.utf8.count < 64 && full.hasPrefix(id)) else { continue }
                if case .array(let names)? = container["names"], let name = names.first?.string, Self.isContainerName(name) {
                    return name
                }
            }
        }
        if id.utf8.count == 64, let bundle = hostJSON(ContainerMetadata.containerdBundle(id)),
           let annotations = bundle["annotations"] {
            for key in ContainerMetadata.criNameAnnotations {
                if let name = annotations[key]?.string, Self.isContainerName(name) { return name }
            }
        }
        return nil
    }

    private func hostJSON(_ path: String) -> JSONValue? {
        guard let bytes = hostFile(path, Limits.containerMetadata + 1), bytes.count <= Limits.containerMetadata else { return nil }
        return JSONValue.parse(bytes)
    }

    /// A runtime's container name is non-empty and has no slashes or control characters.
    static func isContainerName(_ name: String) -> Bool {
        !name.isEmpty && !Self.contains(name, "/") && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}
