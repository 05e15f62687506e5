import Foundation
import VitrineCatalog
import VitrineCore

/// A fashion catalog's vocabulary, and products and descriptions drawn from it: garments with
/// their categories, colours, patterns, materials, fits, brands and GLAMI's markets. The same
/// random stream gives the same products.
public enum SyntheticProducts {
    /// Garments and the category each files under (the last words of a description).
    public static let garments: [(name: String, category: String)] = [
        ("dress", "dresses"), ("maxi dress", "dresses"), ("midi dress", "dresses"), ("shirt dress", "dresses"),
        ("shirt", "shirts"), ("blouse", "shirts"), ("polo shirt", "shirts"), ("t-shirt", "t-shirts"),
        ("tank top", "t-shirts"), ("sweater", "knitwear"), ("cardigan", "knitwear"), ("hoodie", "sweatshirts"),
        ("sweatshirt", "sweatshirts"), ("jacket", "jackets"), ("bomber jacket", "jackets"), ("denim jacket", "jackets"),
        ("coat", "coats"), ("trench coat", "coats"), ("parka", "coats"), ("blazer", "blazers"),
        ("jeans", "jeans"), ("trousers", "trousers"), ("chinos", "trousers"), ("joggers", "trousers"),
        ("shorts", "shorts"), ("skirt", "skirts"), ("pleated skirt", "skirts"), ("mini skirt", "skirts"),
        ("jumpsuit", "jumpsuits"), ("sneakers", "shoes"), ("boots", "shoes"), ("ankle boots", "shoes"),
        ("sandals", "shoes"), ("loafers", "shoes"), ("heels", "shoes"), ("handbag", "bags"),
        ("backpack", "bags"), ("tote bag", "bags"), ("scarf", "accessories"), ("beanie", "accessories"),
    ]
    /// Colours, the first word of every description.
    public static let colours = [
        "black", "white", "navy", "blue", "light blue", "red", "burgundy", "pink", "blush", "green",
        "olive", "khaki", "beige", "cream", "brown", "camel", "grey", "charcoal", "yellow", "mustard",
        "orange", "coral", "purple", "lilac", "teal", "mint", "silver", "gold",
    ]
    /// Patterns; "" leaves the pattern out.
    public static let patterns = [
        "", "striped", "floral", "checked", "plaid", "polka dot", "leopard print", "paisley", "camouflage",
        "tie-dye", "houndstooth", "geometric", "embroidered", "solid", "colour-block",
    ]
    /// Materials; "" leaves the material out.
    public static let materials = [
        "", "cotton", "linen", "wool", "cashmere", "silk", "satin", "denim", "leather", "suede",
        "corduroy", "velvet", "knitted", "jersey", "chiffon", "fleece", "nylon",
    ]
    /// Fits, in product names only; "" (listed twice, so the likeliest) leaves the fit out.
    public static let fits = ["", "", "slim", "oversized", "relaxed", "cropped", "wide-leg", "high-waisted", "fitted", "classic"]
    /// Made-up brands that lead product names.
    public static let brands = [
        "Nordvik", "Lumen & Co", "Marigold", "Atelier Sola", "Brava", "Kestrel", "Oaken", "Vela", "Tessa Rowe",
        "Halden", "Mirabel", "Pioneer", "Cobalt Lane", "Ferro", "Juniper", "Solstice", "Arden", "Nomad Thread",
    ]
    /// GLAMI-1M's markets.
    public static let markets = ["cz", "sk", "ro", "gr", "si", "hu", "hr", "es", "lt", "lv", "tr", "ee", "bg"]

    /// A description such as "navy striped linen shirt" (the text a centre's vector comes from).
    public static func description(_ random: inout SplitMix64) -> String {
        let garment = random.pick(garments).name
        return [random.pick(colours), random.pick(patterns), random.pick(materials), garment]
            .filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// Product `index` (`syn-0000000` on): its description with a brand and a fit, the garment's
    /// category, a market, and `image` as its one photo.
    public static func product(index: Int, description: String, image: ProductImage, _ random: inout SplitMix64) -> Product {
        let brand = random.pick(brands)
        let fit = random.pick(fits)
        let category = garments.filter { description.hasSuffix($0.name) }.max { $0.name.count < $1.name.count }?.category ?? "other"
        let name = "\(brand) \(fit.isEmpty ? "" : fit + " ")\(description)"
        return Product(
            id: String(format: "syn-%07d", index), name: name,
            description: "\(name.capitalized). Synthetic product for load benchmarks.",
            category: category.replacingOccurrences(of: " ", with: "-"), categoryName: category.capitalized,
            market: random.pick(markets), source: "bench-catalog",
            images: [image])
    }
}

extension SplitMix64 {
    /// A uniformly chosen element of `items` (not empty).
    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
}
