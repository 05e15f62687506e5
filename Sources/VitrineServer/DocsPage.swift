/// The API's documentation page at `/docs`, rendered from ``OpenAPIDocument`` by Vitrine itself
/// (no third-party UI assets, so it works offline): each operation with its parameters, request
/// body and responses, then the schemas they refer to.
enum DocsPage {
    static let html: String = render(OpenAPIDocument.document).description

    static func render(_ document: JSONValue) -> HTML {
        let info = document["info"]
        let title = info?["title"]?.string ?? "API"
        var out: HTML = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title) API</title>
        <style>
        body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
        code,pre{font:13px ui-monospace,monospace}h2{margin-top:2.5rem;border-bottom:1px solid #ddd}
        section.op{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
        .method{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}
        .get{color:#0a6}.post{color:#06c}.put{color:#a60}.delete{color:#c22}
        table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.2rem .5rem;border-top:1px solid #eee;vertical-align:top}
        .lock{font-size:.85em;color:#a60}
        </style></head><body>
        <h1>\(title) API <small>\(info?["version"]?.string ?? "")</small></h1>
        <p>\(info?["description"]?.string ?? "")</p>
        <p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI \(document["openapi"]?.string ?? ""))</p>
        <nav><ul>
        """
        let paths = (document["paths"]?.object ?? [:]).sorted { $0.key < $1.key }
        let order = ["get", "post", "put", "delete"]
        var sections = HTML.empty
        for (path, item) in paths {
            for method in order {
                guard let op = item[method] else { continue }
                let anchor = "op-" + (op["operationId"]?.string ?? "\(method)\(path)")
                out += "<li><a href=\"#\(anchor)\"><code>\(method.uppercased()) \(path)</code></a> — \(op["summary"]?.string ?? "")</li>\n"
                sections += operation(op, method: method, path: path, anchor: anchor)
            }
        }
        out += "</ul></nav>\n<h2>Operations</h2>\n\(sections)<h2>Schemas</h2>\n"
        for (name, schema) in (document["components"]?["schemas"]?.object ?? [:]).sorted(by: { $0.key < $1.key }) {
            out += "<section id=\"schema-\(name)\"><h3>\(name)</h3>\(properties(schema))</section>\n"
        }
        return out + "</body></html>\n"
    }

    static func operation(_ op: JSONValue, method: String, path: String, anchor: String) -> HTML {
        var out: HTML = "<section class=\"op\" id=\"\(anchor)\"><h3><span class=\"method \(method)\">\(method)</span><code>\(path)</code></h3>\n"
        out += "<p><strong>\(op["summary"]?.string ?? "")</strong>"
        if op["security"] != nil { out += " <span class=\"lock\">needs <code>Authorization: Bearer &lt;key&gt;</code></span>" }
        out += "</p>\n"
        if let description = op["description"]?.string { out += "<p>\(description)</p>\n" }
        if let parameters = op["parameters"]?.array, !parameters.isEmpty {
            out += "<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>\n"
            for parameter in parameters {
                let required = parameter["required"] == .bool(true) ? " (required)" : ""
                out += "<tr><td><code>\(parameter["name"]?.string ?? "")</code>\(required)</td><td>\(parameter["in"]?.string ?? "")</td>"
                out += "<td>\(schemaText(parameter["schema"] ?? .null))</td><td>\(parameter["description"]?.string ?? "")</td></tr>\n"
            }
            out += "</table>\n"
        }
        if let body = op["requestBody"]?["content"]?.object {
            out += "<h4>Request body</h4><ul>\n"
            for (type, media) in body.sorted(by: { $0.key < $1.key }) {
                out += "<li><code>\(type)</code>: \(schemaText(media["schema"] ?? .null))</li>\n"
            }
            out += "</ul>\n"
        }
        out += "<h4>Responses</h4><table>\n"
        for (status, response) in (op["responses"]?.object ?? [:]).sorted(by: { $0.key < $1.key }) {
            let content = (response["content"]?.object ?? [:]).sorted { $0.key < $1.key }
                .map { "<code>\($0.key)</code> \(schemaText($0.value["schema"] ?? .null))" as HTML }
            out += "<tr><td><code>\(status)</code></td><td>\(response["description"]?.string ?? "")</td><td>\(HTML(joining: content, separator: "<br>"))</td></tr>\n"
        }
        return out + "</table></section>\n"
    }

    /// A property table of an object schema.
    static func properties(_ schema: JSONValue) -> HTML {
        guard let properties = schema["properties"]?.object else { return "<p>\(schemaText(schema))</p>" }
        let required = Set((schema["required"]?.array ?? []).compactMap(\.string))
        var out: HTML = "<table><tr><th>field</th><th>type</th><th>description</th></tr>\n"
        for (name, property) in properties.sorted(by: { $0.key < $1.key }) {
            out += "<tr><td><code>\(name)</code>\(required.contains(name) ? "" : " (optional)")</td>"
            out += "<td>\(schemaText(property))</td><td>\(property["description"]?.string ?? "")</td></tr>\n"
        }
        return out + "</table>"
    }

    /// A schema in a few words: its type, `array of X`, a link to a named schema.
    static func schemaText(_ schema: JSONValue) -> HTML {
        if let ref = schema["$ref"]?.string {
            let name = String(ref.split(separator: "/").last ?? "")
            return "<a href=\"#schema-\(name)\">\(name)</a>"
        }
        let type: String
        switch schema["type"] {
        case .string(let name)?: type = name
        case .array(let types)?: type = types.compactMap(\.string).joined(separator: " or ")
        default: type = "any"
        }
        if type == "array", let items = schema["items"] { return "array of \(schemaText(items))" }
        var limits: [HTML] = []
        if let minimum = schema["minimum"] { limits.append("≥ \(number(minimum))") }
        if let maximum = schema["maximum"] { limits.append("≤ \(number(maximum))") }
        if let maxLength = schema["maxLength"] { limits.append("at most \(number(maxLength)) characters") }
        if let pattern = schema["pattern"]?.string { limits.append("matching <code>\(pattern)</code>") }
        if let media = schema["contentMediaType"]?.string { limits.append("\(media)") }
        return limits.isEmpty ? "\(type)" : "\(type) (\(HTML(joining: limits, separator: ", ")))"
    }

    static func number(_ value: JSONValue) -> String {
        if case .number(let n) = value { return n.rounded() == n ? String(Int(n)) : String(n) }
        return ""
    }
}
