/// Request and response bodies of the OpenAI-compatible API, as far as this server implements it.
enum OpenAI {
    /// A message's content: a string, or a list of parts of which the text ones are joined.
    struct Content: Decodable, Equatable {
        var text: String

        struct Part: Decodable {
            var type: String
            var text: String?
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let string = try? container.decode(String.self) {
                text = string
            } else if container.decodeNil() {
                text = ""
            } else {
                let parts = try container.decode([Part].self)
                text = parts.filter { $0.type == "text" }.compactMap(\.text).joined(separator: "\n")
            }
        }
    }

    struct Message: Decodable {
        var role: String
        var content: Content
    }

    /// A prompt: a string, or a list of strings of which the first is used.
    struct Prompt: Decodable {
        var text: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let string = try? container.decode(String.self) {
                text = string
            } else {
                text = try container.decode([String].self).first ?? ""
            }
        }
    }

    struct ChatCompletionRequest: Decodable {
        var model: String?
        var messages: [Message]
        var max_tokens: Int?
        var max_completion_tokens: Int?
        var temperature: Float?
        var top_p: Float?
        var seed: Int64?
        var stream: Bool?
    }

    struct CompletionRequest: Decodable {
        var model: String?
        var prompt: Prompt
        var max_tokens: Int?
        var temperature: Float?
        var top_p: Float?
        var seed: Int64?
        var stream: Bool?
    }

    struct Usage: Encodable {
        var prompt_tokens: Int
        var completion_tokens: Int
        var total_tokens: Int
    }

    struct ResponseMessage: Encodable {
        var role: String
        var content: String
    }

    struct ChatChoice: Encodable {
        var index: Int
        var message: ResponseMessage
        var finish_reason: String
    }

    struct ChatCompletion: Encodable {
        var id: String
        var object = "chat.completion"
        var created: Int
        var model: String
        var choices: [ChatChoice]
        var usage: Usage
    }

    struct Delta: Encodable {
        var role: String?
        var content: String?
    }

    struct ChatChunkChoice: Encodable {
        var index: Int
        var delta: Delta
        var finish_reason: String?

        enum CodingKeys: String, CodingKey { case index, delta, finish_reason }

        // finish_reason is null, not absent, until the last chunk, as clients expect.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(delta, forKey: .delta)
            try container.encode(finish_reason, forKey: .finish_reason)
        }
    }

    struct ChatCompletionChunk: Encodable {
        var id: String
        var object = "chat.completion.chunk"
        var created: Int
        var model: String
        var choices: [ChatChunkChoice]
    }

    struct TextChoice: Encodable {
        var index: Int
        var text: String
        var finish_reason: String?

        enum CodingKeys: String, CodingKey { case index, text, finish_reason }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(text, forKey: .text)
            try container.encode(finish_reason, forKey: .finish_reason)
        }
    }

    struct Completion: Encodable {
        var id: String
        var object = "text_completion"
        var created: Int
        var model: String
        var choices: [TextChoice]
        var usage: Usage?
    }

    struct Model: Encodable {
        var id: String
        var object = "model"
        var created: Int
        var owned_by = "telltale"
        var meta: Meta
    }

    struct Meta: Encodable {
        var architecture: String
        var parameter_count: UInt64
        var vocab_size: Int
        var context_length: Int
        var trained_context_length: Int
        var file_size: UInt64
        var sha256: String?
    }

    struct ModelList: Encodable {
        var object = "list"
        var data: [Model]
    }
}
