import Foundation
import Testing
import VitrineCatalog
import VitrineCore
import VitrineImage
import VitrineSources
import VitrineSynthetic

/// The generators the tests and `vitrine-bench` share: the same output for the same seed, and
/// the properties the benchmarks count on (clustered unit vectors, photos that all differ,
/// products from the catalog's vocabulary).
@Suite struct GeneratorTests {
    static func length(_ v: ArraySlice<Float>) -> Float { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    @Test func mixtureIsFixedBySeedAndStreamAndItsRowsAreUnitVectors() {
        let mixture = GaussianMixture(dimension: 16, clusters: 4, spread: 0.6, seed: 3)
        let vectors = mixture.sample(count: 50, stream: 0)
        #expect(vectors.vectors == mixture.sample(count: 50, stream: 0).vectors)
        #expect(vectors.labels == mixture.sample(count: 50, stream: 0).labels)
        #expect(vectors.vectors != mixture.sample(count: 50, stream: 1).vectors, "queries are another stream")
        #expect(vectors.vectors != GaussianMixture(dimension: 16, clusters: 4, spread: 0.6, seed: 4).sample(count: 50, stream: 0).vectors)
        #expect(vectors.labels.allSatisfy { (0..<4).contains($0) })
        #expect((0..<50).allSatisfy { abs(Self.length(vectors.vectors[$0 * 16..<($0 + 1) * 16]) - 1) < 1e-5 })
        #expect(mixture.sampleRows(count: 50, stream: 0).vectors.flatMap { $0 } == vectors.vectors)
    }

    @Test func photosAreDistinctGrayscaleSquaresThatDecodeAndGradientsAreFixed() throws {
        let photos = try (0..<20).map { try SyntheticPhoto.png(seed: UInt64($0)) }
        #expect(Set(photos).count == photos.count)
        #expect(try SyntheticPhoto.png(seed: 7) == photos[7])
        for photo in photos {
            let image = try ImageDecoder().decode(photo)
            #expect(image.width == SyntheticPhoto.side && image.height == SyntheticPhoto.side)
        }
        let gradient = SyntheticPhoto.gradient(width: 64, height: 48)
        #expect(gradient.width == 64 && gradient.height == 48)
        #expect(gradient.pixels == SyntheticPhoto.gradient(width: 64, height: 48).pixels)
        #expect(Set(gradient.pixels).count > 200, "varied pixels")
    }

    @Test func readerYieldsItsCountOfProductsWithAPhotoEach() async throws {
        let reader = SyntheticReader(count: 12)
        var ids: [String] = []
        var photos: Set<Data> = []
        for try await entry in reader.entries() {
            guard case .item(let item) = entry else {
                Issue.record("a synthetic source has no bad rows")
                continue
            }
            ids.append(item.product.id)
            #expect(item.product.source == reader.source)
            #expect(item.images.count == 1)
            photos.insert(try await item.images[0].load())
        }
        #expect(ids == (0..<12).map { String(format: "syn-%07d", $0) })
        #expect(photos.count == 12)
    }

    @Test func productsAreFixedByTheRandomStreamAndDrawnFromTheVocabulary() throws {
        let image = ProductImage(id: "0", key: try #require(BlobKey(String(repeating: "ab", count: 32) + ".png")), width: 28, height: 28)
        func catalog(seed: UInt64) -> [Product] {
            var random = SplitMix64(seed: seed)
            return (0..<40).map { i in
                let description = SyntheticProducts.description(&random)
                return SyntheticProducts.product(index: i, description: description, image: image, &random)
            }
        }
        let products = catalog(seed: 1)
        #expect(products == catalog(seed: 1))
        #expect(products != catalog(seed: 2))
        let categories = Set(SyntheticProducts.garments.map { $0.category.replacingOccurrences(of: " ", with: "-") })
        #expect(products.allSatisfy { categories.contains($0.category ?? "") })
        #expect(products.allSatisfy { SyntheticProducts.markets.contains($0.market ?? "") })
        #expect(products.allSatisfy { $0.images == [image] })
        #expect(Set(products.map(\.id)).count == products.count)
    }

    @Test func jitterMovesAUnitVectorAboutTheDistanceAskedAndNormalizes() {
        var random = SplitMix64(seed: 9)
        let centre = [Float(1)] + [Float](repeating: 0, count: 63)
        for distance in [0.05, 0.3] {
            let moved = SyntheticVectors.jitter(centre, by: distance, using: &random)
            #expect(abs(Self.length(moved[...]) - 1) < 1e-5)
            // Moved by `distance`, then scaled back onto the sphere: the chord to the centre is
            // about the distance, a little shorter when the direction leans along the centre.
            let chord = Double(Self.length(zip(moved, centre).map { $0 - $1 }[...]))
            #expect(chord > 0.75 * distance && chord < 1.05 * distance, "distance \(distance), chord \(chord)")
        }
    }
}
