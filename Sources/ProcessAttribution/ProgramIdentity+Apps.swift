// Packaged desktop apps: Flatpak, Snap, AppImage and Electron, each by what its packaging leaves
// where /proc can see it.

extension ProgramNamer {
    /// The Flatpak application id (`org.foo.Bar`) from the `[Application]` section's `name=` of
    /// `/.flatpak-info`, which flatpak writes into the root of every sandbox. Only a plausible id
    /// (letters, digits, `.`, `_`, `-`) is believed.
    func flatpakApplication() -> String? {
        guard let bytes = read("/.flatpak-info", limit: Limits.flatpakInfo) else { return nil }
        var section = ""
        for rawLine in String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.drop { $0 == " " || $0 == "\t" }
            if line.hasPrefix("[") {
                section = String(line)
                continue
            }
            guard section.hasPrefix("[Application]"), let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].filter { $0 != " " && $0 != "\t" }
            guard key == "name" else { continue }
            let value = line[line.index(after: equals)...].filter { $0 != " " && $0 != "\t" && $0 != "\r" }
            let plausible = !value.isEmpty && value.count <= 255
                && value.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "." || $0 == "_" || $0 == "-" }
            return plausible ? String(value) : nil
        }
        return nil
    }

    /// An app found by where its executable lives:
    /// - AppImage: its runtime mounts the image at `$TMPDIR/.mount_` + the first 6 bytes of the
    ///   image's file name + 6 random characters. The name is that prefix; when it was cut at 6 and
    ///   the executable's own name extends it (`LM-Stu` → `lm-studio`), the executable's name, which
    ///   is the fuller one.
    /// - Snap: `/snap/NAME/REVISION/…` → `NAME`, except for base snaps (`core22`, `bare`, `snapd`),
    ///   whose binaries (a base's python) run on behalf of other snaps and name no app.
    func appImageOrSnap(exe: String) -> Program? {
        let components = Self.components(exe)
        let marker = ".mount_"
        if let mount = components.dropLast().first(where: { $0.hasPrefix(marker) && $0.count > marker.count + 6 }) {
            let prefix = String(mount.dropFirst(marker.count).dropLast(6))
            let executable = Self.basename(exe)
            let extends = prefix.count == 6 && executable != "AppRun" && Interpreter(executableName: executable) == nil
                && executable.lowercased().hasPrefix(prefix.lowercased())
            return Program(name: extends ? executable : prefix, kind: .app)
        }
        if exe.hasPrefix("/snap/"), components.count >= 3 {
            let name = components[1]
            let isBase = name == "bare" || name == "snapd" || name == "bin"
                || (name.hasPrefix("core") && name.dropFirst(4).allSatisfy { $0.isASCII && $0.isNumber })
            if !isBase { return Program(name: name, kind: .app) }
        }
        return nil
    }

    /// Directories of system commands, where no Electron app keeps its runtime (and which most
    /// processes run from, so they are spared the read).
    static let systemCommandDirectories: Set<String> = [
        "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/usr/libexec",
    ]

    /// An Electron app ships its runtime, renamed after the app, beside `resources/app.asar`
    /// (`/opt/Foo/foo`, `/usr/lib/foo/foo`): one read of a single byte says so.
    func isElectronApp(exe: String) -> Bool {
        let directory = Self.dirname(exe)
        guard !Self.systemCommandDirectories.contains(directory) else { return false }
        return read((directory == "/" ? "" : directory) + "/resources/app.asar", limit: 1) != nil
    }
}
