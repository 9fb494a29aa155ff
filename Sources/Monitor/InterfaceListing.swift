import Capture
import Reporting

/// `telltale interfaces`: what libpcap can capture on, as text or one JSON object.
public enum InterfaceListing {
    /// The listing; throws when libpcap cannot list the interfaces.
    public static func render(json: Bool) throws -> String {
        let list = try PcapHandle.interfaces()
        if json {
            var w = JSONWriter()
            w.beginObject()
            w.key("libpcap"); w.string(PcapHandle.libraryVersion)
            w.key("interfaces"); w.beginArray()
            for interface in list {
                w.beginObject()
                w.key("name"); w.string(interface.name)
                w.key("up"); w.bool(interface.isUp)
                w.key("running"); w.bool(interface.isRunning)
                w.key("loopback"); w.bool(interface.isLoopback)
                w.key("addresses"); w.beginArray(); for a in interface.addresses { w.string(a) }; w.endArray()
                w.endObject()
            }
            w.endArray()
            w.endObject()
            return w.text + "\n"
        }
        var text = ""
        for interface in list {
            var flags: [String] = []
            if interface.isUp { flags.append("up") }
            if interface.isRunning { flags.append("running") }
            if interface.isLoopback { flags.append("loopback") }
            let addresses = interface.addresses.isEmpty ? "" : "  " + interface.addresses.joined(separator: " ")
            text += "\(interface.name)  [\(flags.joined(separator: ","))]\(addresses)\n"
        }
        return text + "(\(PcapHandle.libraryVersion))\n"
    }
}
