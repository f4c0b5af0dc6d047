/// Builds PostgreSQL array literals (`{1,2,3}`, `{"a","b\"c"}`) for `unnest($1::int8[])`-style
/// batch statements, so a whole batch travels as a handful of parameters.
public enum ArrayLiteral {
    /// An array of integers: `{1,-2,3}`.
    public static func integers<S: Sequence>(_ values: S) -> String where S.Element: BinaryInteger {
        var text = "{"
        var first = true
        for v in values {
            if !first { text.append(",") }
            first = false
            text.append(String(v))
        }
        text.append("}")
        return text
    }

    /// An array of texts, each quoted and escaped; nil is NULL.
    public static func texts<S: Sequence>(_ values: S) -> String where S.Element == String? {
        var text = "{"
        var first = true
        for v in values {
            if !first { text.append(",") }
            first = false
            guard let v else {
                text.append("NULL")
                continue
            }
            text.append("\"")
            for ch in v.unicodeScalars {
                if ch == "\"" || ch == "\\" { text.append("\\") }
                text.unicodeScalars.append(ch)
            }
            text.append("\"")
        }
        text.append("}")
        return text
    }

    public static func texts<S: Sequence>(_ values: S) -> String where S.Element == String {
        texts(values.lazy.map { Optional($0) })
    }
}
