/// The label vocabularies and normalization tables, parsed once from the embedded data files.
package struct ScorerVocabularies: Sendable {
    /// Food-101: class names with underscores, in label order (index = label).
    package let food101Names: [String]
    /// Food-101 class names as the benchmark's labels write them (spaces), in label order.
    package var food101Classes: [String] { food101Names.map { String($0.map { $0 == "_" ? " " : $0 }) } }
    /// FoodSeg103: id -> name, all 104 ids (0 = background and 103 = other ingredients included).
    package let foodSeg103: [(id: Int, name: String)]
    /// Nutrition5K: ingredient names; an ingredient's id is its position.
    package let nutrition5k: [String]
    package let normalization: VQANormalization.Tables

    package static let shared: ScorerVocabularies = {
        do {
            return try ScorerVocabularies(
                food101: EmbeddedScorerData.food101NameToLabel, foodSeg103: EmbeddedScorerData.foodseg103IdToLabel,
                nutrition5k: EmbeddedScorerData.nutrition5kIngredients,
                normalization: EmbeddedScorerData.llavaMedNormalization)
        } catch {
            fatalError("embedded scorer data is invalid (regenerate with scripts/embed-scorer-data.sh): \(error)")
        }
    }()

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    init(food101: String, foodSeg103 segText: String, nutrition5k ingredientsText: String, normalization: String) throws {
        guard case let .object(f101) = try JSONReader.parse(food101) else { throw Invalid(description: "food101: not an object") }
        var names = [String?](repeating: nil, count: f101.count)
        for (name, v) in f101 {
            guard let d = v.doubleValue, let i = Int(exactly: d), i >= 0, i < names.count, names[i] == nil else {
                throw Invalid(description: "food101: bad label for \(name)")
            }
            names[i] = name
        }
        food101Names = names.map { $0! }

        guard case let .object(seg) = try JSONReader.parse(segText) else {
            throw Invalid(description: "foodseg103: not an object")
        }
        foodSeg103 = try seg.map { k, v in
            guard let id = Int(k), case let .string(name) = v else { throw Invalid(description: "foodseg103: bad entry \(k)") }
            return (id, name)
        }.sorted { $0.id < $1.id }

        guard case let .array(ingredients) = try JSONReader.parse(ingredientsText) else {
            throw Invalid(description: "nutrition5k: not an array")
        }
        self.nutrition5k = try ingredients.map {
            guard case let .string(s) = $0 else { throw Invalid(description: "nutrition5k: non-string entry") }
            return s
        }

        let norm = try JSONReader.parse(normalization)
        func strings(_ key: String) throws -> [String] {
            guard case let .array(items)? = norm[key] else { throw Invalid(description: "normalization: \(key) missing") }
            return try items.map {
                guard case let .string(s) = $0 else { throw Invalid(description: "normalization: \(key) non-string") }
                return s
            }
        }
        func map(_ key: String) throws -> [(String, String)] {
            guard case let .object(pairs)? = norm[key] else { throw Invalid(description: "normalization: \(key) missing") }
            return try pairs.map { k, v in
                guard case let .string(s) = v else { throw Invalid(description: "normalization: \(key).\(k) non-string") }
                return (k, s)
            }
        }
        self.normalization = VQANormalization.Tables(
            punctuation: try strings("punctuation"), articles: try strings("articles"),
            numberWords: try map("number_words"), contractions: try map("contractions"))
    }
}
