import Testing
import VitrineIndex
@testable import VitrineEngine

/// How migrate compares the two sides' top 10: distances rank by rank, keys but for ties.
struct MigrationAgreementTests {
    func hits(_ pairs: [(String, Float)]) -> [SearchHit] {
        pairs.map { SearchHit(key: VectorKey(product: $0.0), distance: $0.1, metric: .cosine) }
    }

    @Test func tiesMayComeInEitherOrder() {
        #expect(Migration.agree(hits([("a", 0.1), ("b", 0.1), ("c", 0.3)]), hits([("b", 0.1), ("a", 0.10004), ("c", 0.3)])))
        // A tie at the last rank may keep either key.
        #expect(Migration.agree(hits([("a", 0.1), ("b", 0.3)]), hits([("a", 0.1), ("z", 0.3)])))
    }

    @Test func anyOtherDifferenceDisagrees() {
        #expect(!Migration.agree(hits([("a", 0.1), ("b", 0.2)]), hits([("b", 0.1), ("a", 0.2)])))
        #expect(!Migration.agree(hits([("a", 0.1), ("b", 0.2), ("c", 0.3)]), hits([("a", 0.1), ("z", 0.2), ("c", 0.3)])))
        #expect(!Migration.agree(hits([("a", 0.1)]), hits([("a", 0.1), ("b", 0.2)])))
        #expect(!Migration.agree(hits([("a", 0.1)]), hits([("a", 0.1002)])))
    }
}
