import Testing
@testable import Content

private func texts(_ endpoint: RuntimeEndpoint, _ json: String, encoding: String? = nil) throws -> [String] {
    try PromptText.texts(endpoint: endpoint, body: Array(json.utf8), contentEncoding: encoding)
}

@Test func recognisesEveryEndpointWithOrWithoutAPrefix() {
    #expect(RuntimeEndpoint(method: "POST", path: "/v1/chat/completions") == .chatCompletions)
    #expect(RuntimeEndpoint(method: "POST", path: "/openai/v1/chat/completions") == .chatCompletions)
    #expect(RuntimeEndpoint(method: "POST", path: "/v1/completions") == .completions)
    #expect(RuntimeEndpoint(method: "POST", path: "/v1/responses") == .responses)
    #expect(RuntimeEndpoint(method: "POST", path: "/v1/embeddings") == .embeddings)
    #expect(RuntimeEndpoint(method: "POST", path: "/ollama/api/chat") == .ollamaChat)
    #expect(RuntimeEndpoint(method: "POST", path: "/api/generate/") == .ollamaGenerate)
    #expect(RuntimeEndpoint(method: "POST", path: "/api/embed") == .ollamaEmbed)
    #expect(RuntimeEndpoint(method: "POST", path: "/api/embeddings") == .ollamaEmbeddings)
    #expect(RuntimeEndpoint(method: "POST", path: "/completion") == .llamaCompletion)
    #expect(RuntimeEndpoint(method: "POST", path: "/completions") == .llamaCompletions)
    #expect(RuntimeEndpoint(method: "POST", path: "/infill") == .llamaInfill)
    #expect(RuntimeEndpoint(method: "GET", path: "/api/chat") == nil)
    #expect(RuntimeEndpoint(method: "POST", path: "/api/chatter") == nil)
    #expect(RuntimeEndpoint.chatCompletions.rawValue == "/v1/chat/completions")
}

@Test func extractsChatMessagesButNotTheAssistantsWords() throws {
    let json = #"""
    {"model":"m","messages":[
      {"role":"system","content":"You are terse."},
      {"content":"What is \"up\"?\nTell me.","role":"user"},
      {"role":"assistant","content":"Nothing much."},
      {"role":"user","content":[{"type":"text","text":"part one"},{"type":"image_url","image_url":{"url":"data:x"}},{"text":"part two","type":"input_text"}]},
      {"role":"tool","content":"tool said this"}
    ],"stream":true}
    """#
    #expect(try texts(.chatCompletions, json) == ["You are terse.", "What is \"up\"?\nTell me.", "part one", "part two", "tool said this"])
}

@Test func extractsPromptsSystemAndSuffix() throws {
    #expect(try texts(.ollamaGenerate, #"{"model":"m","prompt":"why is the sky blue","system":"be brief","suffix":"end","options":{"prompt":"no"}}"#)
        == ["why is the sky blue", "be brief", "end"])
    #expect(try texts(.completions, #"{"prompt":["one","two",[1,2,3]],"max_tokens":5}"#) == ["one", "two"])
    #expect(try texts(.llamaCompletion, #"{"prompt":[12,34],"n_predict":1}"#) == [])
    #expect(try texts(.llamaInfill, #"{"input_prefix":"def f(","input_suffix":"):","input_extra":[{"filename":"a.py","text":"import os"}]}"#)
        == ["def f(", "):", "import os"])
}

@Test func extractsResponsesInputItemsAndEmbeddingsInput() throws {
    let json = #"""
    {"model":"m","instructions":"be kind","input":[
      {"role":"user","content":[{"type":"input_text","text":"first question"}]},
      {"type":"message","role":"assistant","content":[{"type":"output_text","text":"an answer"}]},
      {"type":"function_call","name":"f","arguments":"{}"},
      {"type":"function_call_output","call_id":"c","output":"the tool output"},
      {"role":"user","content":"second question"}
    ]}
    """#
    #expect(try texts(.responses, json) == ["be kind", "first question", "the tool output", "second question"])
    #expect(try texts(.responses, #"{"input":"just a string"}"#) == ["just a string"])
    #expect(try texts(.embeddings, #"{"input":["a b","c d"]}"#) == ["a b", "c d"])
    #expect(try texts(.ollamaEmbed, #"{"input":"embed me"}"#) == ["embed me"])
    #expect(try texts(.ollamaEmbeddings, #"{"prompt":"embed me too"}"#) == ["embed me too"])
}

@Test func decodesEscapesAndRepairsInvalidUTF8() throws {
    #expect(try texts(.ollamaGenerate, #"{"prompt":"caf\u00e9 \ud83d\ude00 \ud800x"}"#) == ["café 😀 \u{FFFD}x"])
    var body = Array(#"{"prompt":"bad "#.utf8)
    body += [0xFF, 0xFE]
    body += Array(#" bytes"}"#.utf8)
    #expect(try PromptText.texts(endpoint: .ollamaGenerate, body: body) == ["bad \u{FFFD}\u{FFFD} bytes"])
}

@Test func reportsCompressedBodiesAndNonJSON() {
    #expect(throws: PromptText.ExtractionError.encoded("gzip")) { try texts(.ollamaChat, "\u{1f}", encoding: "gzip") }
    #expect(throws: PromptText.ExtractionError.encoded("br")) { try texts(.ollamaChat, "{}", encoding: " BR ") }
    #expect((try? texts(.ollamaChat, "{}", encoding: "identity")) == [])
    #expect(throws: PromptText.ExtractionError.notJSON) { try texts(.ollamaChat, "prompt=hello") }
    #expect(throws: PromptText.ExtractionError.notJSON) { try texts(.ollamaChat, "") }
    #expect(throws: PromptText.ExtractionError.malformed(offset: 11)) { try texts(.ollamaChat, #"{"prompt": x}"#) }
}

@Test func survivesDeepNesting() {
    let deep = String(repeating: "[", count: 100_000)
    #expect(throws: PromptText.ExtractionError.tooDeep) { try texts(.chatCompletions, deep) }
    let deepObjects = "{\"a\":" + String(repeating: "{\"a\":", count: 100_000)
    #expect(throws: PromptText.ExtractionError.tooDeep) { try texts(.chatCompletions, deepObjects) }
    let fine = "{\"x\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + ",\"prompt\":\"ok\"}"
    #expect((try? texts(.chatCompletions, fine)) == ["ok"])
}

@Test func keepsTheTextsBeforeATruncation() throws {
    let json = #"{"messages":[{"role":"user","content":"complete message"},{"role":"user","content":"cut mess"#
    #expect(try texts(.chatCompletions, json) == ["complete message"])
}
