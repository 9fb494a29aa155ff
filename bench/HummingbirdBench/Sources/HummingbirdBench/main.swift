import Foundation
import Hummingbird

// `HummingbirdBench MODELS_JSON EVENTS EVENT_BYTES PORT`: GET /v1/models answers the file's bytes,
// GET /v1/stream EVENTS server-sent events of EVENT_BYTES each, as `http-bench` does.
let arguments = CommandLine.arguments
guard arguments.count == 5, let models = FileManager.default.contents(atPath: arguments[1]),
      let events = Int(arguments[2]), let eventBytes = Int(arguments[3]), let port = Int(arguments[4])
else {
    FileHandle.standardError.write(Data("usage: HummingbirdBench MODELS_JSON EVENTS EVENT_BYTES PORT\n".utf8))
    exit(64)
}
let modelBytes = ByteBuffer(bytes: Array(models))
let event = ByteBuffer(bytes: Array("data: ".utf8) + Array(repeating: UInt8(ascii: "x"), count: eventBytes) + Array("\n\n".utf8))

let router = Router()
router.get("/v1/models") { _, _ in
    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: modelBytes))
}
router.get("/v1/stream") { _, _ in
    Response(
        status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
        body: .init { writer in
            for _ in 0..<events { try await writer.write(event) }
            try await writer.finish(nil)
        })
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
FileHandle.standardOutput.write(Data("listening on \(port)\n".utf8))
try await app.runService()
