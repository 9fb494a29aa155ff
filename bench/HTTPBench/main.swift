import Foundation
import HTTP

// The HTTP layer alone, with no model behind it: the peer of bench/HummingbirdBench, serving the
// same bytes. `http-bench MODELS_JSON EVENTS EVENT_BYTES` prints "listening on PORT", then serves
// GET /v1/models (the file's bytes) and GET /v1/stream (EVENTS server-sent events of EVENT_BYTES).
let arguments = CommandLine.arguments
guard arguments.count == 4, let models = FileManager.default.contents(atPath: arguments[1]),
      let events = Int(arguments[2]), let eventBytes = Int(arguments[3])
else {
    FileHandle.standardError.write(Data("usage: http-bench MODELS_JSON EVENTS EVENT_BYTES\n".utf8))
    exit(64)
}
let modelBytes = Array(models)
let payload = Array(repeating: UInt8(ascii: "x"), count: eventBytes)
let server: HTTPServer
do {
    server = try HTTPServer(host: "127.0.0.1", port: 0) { request, writer in
        switch request.path {
        case "/v1/models": writer.sendJSON(modelBytes)
        case "/v1/stream":
            writer.startEventStream()
            for _ in 0..<events where writer.sendEvent(payload) {}
        default: writer.send(status: 404, contentType: "text/plain", body: [])
        }
    }
} catch {
    FileHandle.standardError.write(Data("http-bench: \(error)\n".utf8))
    exit(1)
}
FileHandle.standardOutput.write(Data("listening on \(server.port)\n".utf8))
server.run()
