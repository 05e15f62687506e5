import Foundation
@testable import VitrineServer

/// Checks a JSON value against the subset of JSON Schema the OpenAPI document uses: `$ref`,
/// `type` (one or a list), `properties`, `required`, `additionalProperties: false` or a schema,
/// `items`, `minimum`/`maximum`, `minLength`/`maxLength`. Returns the violations, with paths.
struct SchemaValidator {
    let document: JSONValue

    func violations(_ value: JSONValue, _ schema: JSONValue, path: String = "$") -> [String] {
        if let ref = schema["$ref"]?.string {
            let name = String(ref.split(separator: "/").last ?? "")
            guard let target = document["components"]?["schemas"]?[name] else { return ["\(path): unknown $ref \(ref)"] }
            return violations(value, target, path: path)
        }
        var problems: [String] = []
        let types: [String]
        switch schema["type"] {
        case .string(let t)?: types = [t]
        case .array(let list)?: types = list.compactMap(\.string)
        default: types = []
        }
        if !types.isEmpty, !types.contains(where: { Self.matches(value, type: $0) }) {
            return ["\(path): expected \(types.joined(separator: " or ")), got \(value)"]
        }
        switch value {
        case .object(let members):
            let properties = schema["properties"]?.object ?? [:]
            for name in (schema["required"]?.array ?? []).compactMap(\.string) where members[name] == nil {
                problems.append("\(path): missing required \(name)")
            }
            for (name, member) in members {
                if let property = properties[name] {
                    problems += violations(member, property, path: "\(path).\(name)")
                } else if schema["additionalProperties"] == .bool(false) {
                    problems.append("\(path): unexpected property \(name)")
                } else if let additional = schema["additionalProperties"], additional.object != nil {
                    problems += violations(member, additional, path: "\(path).\(name)")
                }
            }
        case .array(let items):
            if let itemSchema = schema["items"] {
                for (i, item) in items.enumerated() { problems += violations(item, itemSchema, path: "\(path)[\(i)]") }
            }
        case .number(let n):
            if case .number(let minimum)? = schema["minimum"], n < minimum { problems.append("\(path): \(n) < \(minimum)") }
            if case .number(let maximum)? = schema["maximum"], n > maximum { problems.append("\(path): \(n) > \(maximum)") }
        case .string(let s):
            if case .number(let minimum)? = schema["minLength"], Double(s.count) < minimum { problems.append("\(path): shorter than \(minimum)") }
            if case .number(let maximum)? = schema["maxLength"], Double(s.count) > maximum { problems.append("\(path): longer than \(maximum)") }
        default:
            break
        }
        return problems
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("number", .number), ("string", .string), ("array", .array), ("object", .object): true
        case ("integer", .number(let n)): n.rounded() == n
        default: false
        }
    }
}
