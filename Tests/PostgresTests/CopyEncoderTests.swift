import Testing
@testable import Postgres

@Suite struct CopyEncoderTests {
    @Test func escapesTheCharactersCopyTextFormatReserves() {
        var encoder = CopyEncoder()
        encoder.appendRow(["a\tb", nil, "c\\d\ne\rf"])
        #expect(String(decoding: encoder.bytes, as: UTF8.self) == "a\\tb\t\\N\tc\\\\d\\ne\\rf\n")
    }
}
