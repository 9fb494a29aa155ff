import Testing

@testable import LlamaServer

/// The server holds sampling settings to the command line's rules.
struct RequestValidationTests {
    @Test func settingsTheCommandLineRefusesAreRefusedByTheServerToo() {
        #expect(OpenAIServer.invalidParameters(maxTokens: -1, temperature: nil, topP: nil) != nil)
        #expect(OpenAIServer.invalidParameters(maxTokens: nil, temperature: -0.5, topP: nil) != nil)
        #expect(OpenAIServer.invalidParameters(maxTokens: nil, temperature: .infinity, topP: nil) != nil)
        #expect(OpenAIServer.invalidParameters(maxTokens: nil, temperature: nil, topP: 0) != nil)
        #expect(OpenAIServer.invalidParameters(maxTokens: nil, temperature: nil, topP: 1.5) != nil)
        #expect(OpenAIServer.invalidParameters(maxTokens: 16, temperature: 0.7, topP: 0.9) == nil)
        #expect(OpenAIServer.invalidParameters(maxTokens: nil, temperature: nil, topP: nil) == nil)
    }
}
