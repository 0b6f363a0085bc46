/// Why event data was refused. Every case names the field (a dotted path such as
/// `target.start` or `ops[2]`) or the type that is wrong.
public enum EventValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The event type is not one of SPEC §3.
    case unknownType(String)
    /// The type is known but not at this schema version.
    case unknownSchemaVersion(type: String, version: Int, known: [Int])
    /// The data is not a JSON object.
    case malformedJSON(String)
    /// A required field is absent (or null).
    case missingField(String)
    /// A field has the wrong JSON type.
    case wrongType(field: String, expected: String)
    /// A field has the right type but a value that is not allowed.
    case invalidField(field: String, reason: String)

    /// The field the error is about, if any.
    public var field: String? {
        switch self {
        case .missingField(let field), .wrongType(let field, _), .invalidField(let field, _): return field
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .unknownType(let type): return "unknown event type \"\(type)\""
        case .unknownSchemaVersion(let type, let version, let known):
            return "\(type) has no schema version \(version) (known: \(known.map(String.init).joined(separator: ", ")))"
        case .malformedJSON(let reason): return "event data is not a JSON object: \(reason)"
        case .missingField(let field): return "missing field \"\(field)\""
        case .wrongType(let field, let expected): return "field \"\(field)\" must be \(expected)"
        case .invalidField(let field, let reason): return "field \"\(field)\" is invalid: \(reason)"
        }
    }
}
