import Testing
@testable import Content

@Test func foldsCaseAndAppliesNFKC() {
    #expect(TextNormalizer.words(of: "The ﬁne ＦＵＬＬＷＩＤＴＨ Straße") == ["the", "fine", "fullwidth", "strasse"])
    #expect(TextNormalizer.words(of: "Cafe\u{301} café CAFÉ") == ["café", "café", "café"])
    #expect(TextNormalizer.words(of: "ΣΟΦΟΣ σοφος") == ["σοφοσ", "σοφοσ"])
    #expect(TextNormalizer.words(of: "x① a⑴b") == ["x1", "a", "1", "b"])
}

@Test func splitsOnPunctuationRunsAndKeepsDigits() {
    #expect(TextNormalizer.words(of: "  hello,   world!!! -- it's 2024... ok?") == ["hello", "world", "it", "s", "2024", "ok"])
    #expect(TextNormalizer.words(of: "snake_case-and.dots") == ["snake", "case", "and", "dots"])
    #expect(TextNormalizer.words(of: "日本語 テキスト") == ["日本語", "テキスト"])
    #expect(TextNormalizer.words(of: "") == [])
}

@Test func decodesJSONEscapesAndPercentEncoding() {
    #expect(TextNormalizer.words(of: #"say \"hi\"\nthen caf\u00e9 \ud83d\ude00x"#) == ["say", "hi", "then", "café", "x"])
    #expect(TextNormalizer.words(of: "q=caf%C3%A9+au+lait%21") == ["q", "café", "au", "lait"])
    #expect(TextNormalizer.words(of: #"double \\\"escaped\\\" \\u00e9t\\u00e9"#) == ["double", "escaped", "été"])
    #expect(TextNormalizer.words(of: "www.example-site.com") == ["www", "example", "site", "com"])
    // An unfinished escape gives its characters back.
    #expect(TextNormalizer.words(of: #"\u00zz 100%"#) == ["u00zz", "100"])
}

@Test func carriesWordsAndSequencesAcrossChunks() {
    let text = Array(#"Ωmega caf\u00e9 100%25 ok"#.utf8)
    var stream = WordStream()
    var words: [String] = []
    for b in text { words += stream.words([b]) }
    words += stream.finishWords()
    #expect(words == TextNormalizer.words(of: #"Ωmega caf\u00e9 100%25 ok"#))
    #expect(words == ["ωmega", "café", "100", "ok"])
}

@Test func treatsInvalidUTF8AsASeparator() {
    var stream = WordStream()
    var words = stream.words([0x61, 0x62, 0xFF, 0x63, 0xC3])
    words += stream.words([0x28, 0x64])
    words += stream.finishWords()
    #expect(words == ["ab", "c", "d"])
}

@Test func cutsVeryLongRunsIntoSixtyFourByteWords() {
    let long = String(repeating: "a", count: 150)
    let words = TextNormalizer.words(of: long)
    #expect(words.map(\.count) == [64, 64, 22])
}
