public import HTTP
import Foundation

extension HTTPResponseWriter {
    /// Sends an OpenAI-style error object.
    public func sendJSONError(status: Int, message: String, type: String = "invalid_request_error") {
        let object: [String: Any] = ["error": ["message": message, "type": type, "code": status]]
        let body = (try? JSONSerialization.data(withJSONObject: object)).map { Array($0) } ?? Array("{}".utf8)
        sendJSON(status: status, body)
    }
}

extension OpenAIServer {
    /// The model server's answer to a request the HTTP server turns away: an OpenAI-style error
    /// object, as every other error of the API is.
    public static let refusal: HTTPServer.RefusalWriter = { refusal, writer in
        let type = switch refusal.kind {
        case .invalidRequest: "invalid_request_error"
        case .forbidden: "forbidden"
        case .overloaded: "server_error"
        }
        writer.sendJSONError(status: refusal.status, message: refusal.message, type: type)
    }
}
