import Testing
import VitrineIndex
@testable import VitrineMilvus

/// Filters become expressions through typed parts: values are quoted and escaped, never spliced.
struct ExpressionTests {
    @Test(arguments: [
        ("dress", #""dress""#),
        (#"x" or category != ""#, #""x\" or category != \"""#),
        (#"a\b"#, #""a\\b""#),
        ("line\nbreak\r\ttab", #""line\nbreak\r\ttab""#),
        ("bell\u{7}", "\"bell\u{7}\""),
        ("šaty ★", #""šaty ★""#),
        ("", #""""#),
    ])
    func literalsAreQuotedAndEscaped(value: String, literal: String) {
        #expect(MilvusExpression.literal(value) == literal)
    }

    @Test func filtersJoinConditionsWithAnd() throws {
        #expect(try MilvusExpression.filter(nil) == nil)
        #expect(try MilvusExpression.filter(VectorFilter()) == nil)
        let one = try MilvusExpression.filter(.attribute("category", in: ["dress"]))
        #expect(one?.description == #"category == "dress""#)
        let several = try MilvusExpression.filter(VectorFilter(["market": ["cz", "sk"], "category": ["dress"]], products: ["7"]))
        #expect(several?.description == #"(category == "dress") and (market in ["cz", "sk"]) and (product == "7")"#)
    }

    @Test func anAttributeWithoutAFieldIsRefused() {
        #expect(throws: VectorIndexError.self) { try MilvusExpression.filter(.attribute("colour", in: ["red"])) }
    }

    @Test func urlsParseAndSecretsStayOffTheCommandLine() throws {
        let parsed = try MilvusConfiguration(url: "milvus://db.internal:19531/shop?consistency=strong&M=32&ef=128&timeout=3",
                                             setting: "--vectors", environment: ["MILVUS_TOKEN": "root:Milvus"], passwordAllowed: false)
        #expect(parsed.host == "db.internal" && parsed.port == 19531 && parsed.collection == "shop")
        #expect(parsed.consistency == .strong && parsed.M == 32 && parsed.ef == 128 && parsed.timeout == 3)
        #expect(parsed.token == "root:Milvus")
        #expect(parsed.displayURL == "milvus://db.internal:19531/shop")
        #expect(parsed.collectionName(forIndex: "index") == "shop" && parsed.collectionName(forIndex: "index-3") == "shop_3")
        #expect(parsed.collectionName(forIndex: "text") == "shop_text" && parsed.collectionName(forIndex: "text-2") == "shop_text_2")
        for (url, named) in [("milvus://u:pw@h/c", "MILVUS_PASSWORD"), ("milvus://h/", "collection"), ("milvus://h/a-b", "collection"),
                             ("milvus://h/c?consistency=often", "consistency"), ("milvus://h/c?M=1", "M"), ("milvus://h/c?colour=1", "colour"),
                             ("http://h/c", "milvus://")] {
            #expect {
                _ = try MilvusConfiguration(url: url, setting: "--vectors", environment: [:], passwordAllowed: false)
            } throws: { error in
                guard case VectorIndexError.invalidArgument(let message) = error else { return false }
                return message.contains("--vectors") && message.contains(named) && !message.contains("pw@")
            }
        }
    }
}
