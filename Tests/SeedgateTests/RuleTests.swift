import Foundation
import SeedgateDomain
import SeedgateHTTP
import SeedgateSupport
import Testing

@Suite("state transitions (pure)")
struct TransitionTests {
    /// Every pair of states of each machine, and whether the move is allowed.
    static func pairs<S: StatusMachine>(_: S.Type, allowed: [(S, S)]) -> [(String, Bool, Bool)] {
        S.allCases.flatMap { from in
            S.allCases.map { to in
                ("\(from.rawValue) -> \(to.rawValue)", from.canMove(to: to), allowed.contains { $0 == (from, to) })
            }
        }
    }

    static let table: [(String, Bool, Bool)] =
        pairs(AssetStatus.self, allowed: [(.processing, .active), (.processing, .failed)])
        + pairs(AssetReviewTask.Status.self, allowed: [(.processing, .completed), (.processing, .failed)])
        + pairs(VideoStatus.self, allowed: [
            (.pending, .processing), (.pending, .cancelled), (.processing, .processing),
            (.processing, .completed), (.processing, .failed), (.processing, .cancelled),
        ])
        + pairs(DeliveryStatus.self, allowed: [(.pending, .pending), (.pending, .delivered), (.pending, .failed)])

    @Test("each machine allows exactly its moves", arguments: table)
    func moves(_ row: (String, Bool, Bool)) {
        #expect(row.1 == row.2, "\(row.0)")
    }

    @Test("final states are the ones nothing leaves; the store's SQL lists name the sources of a move")
    func finalAndSources() {
        #expect(VideoStatus.allCases.filter(\.isFinal) == [.completed, .failed, .cancelled])
        #expect(AssetStatus.allCases.filter(\.isFinal) == [.active, .failed])
        #expect(VideoStatus.sqlSources(of: .cancelled) == "'pending', 'processing'")
        #expect(VideoStatus.sqlSources(of: .completed) == "'processing'")
        #expect(AssetStatus.sqlSources(of: .active) == "'processing'")
        #expect(DeliveryStatus.sqlSources(of: .delivered) == "'pending'")
        #expect(DeliveryStatus.after(attempt: true, retrying: true) == .delivered)
        #expect(DeliveryStatus.after(attempt: false, retrying: true) == .pending)
        #expect(DeliveryStatus.after(attempt: false, retrying: false) == .failed)
    }
}

@Suite("generation rules (pure)")
struct GenerationRuleTests {
    /// The rows that need no store: an `asset://` id's ownership is checked by the service.
    static let pure = GenerationTests.invalid.filter { $0.2 != "does not exist" }

    @Test("every limit of seed 002 is refused naming the field and the rule", arguments: pure)
    func refused(_ row: (String, String, String)) throws {
        do {
            _ = try TestSupport.generationRequest(row.0)
            Issue.record("accepted: \(row.0.prefix(120))")
        } catch let error as SeedgateError {
            #expect(error.kind == .invalidRequest)
            #expect(error.param == row.1, "\(error.message)")
            #expect(error.message.hasPrefix(row.1), "\(error.message)")
            #expect(error.message.contains(row.2), "\(error.message)")
        }
    }

    @Test("defaults are applied; one plain image is the first frame, several are references, an asset is a reference")
    func defaultsAndRoles() throws {
        let plain = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "prompt": "a cat"}"#)
        #expect(plain.duration == 5 && plain.size == "16:9" && plain.resolution == "480p")
        #expect(!plain.generateAudio && !plain.returnLastFrame && !plain.watermark && plain.seed == nil)
        let one = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "image_urls": ["https://example.com/a.png"]}"#)
        #expect(one.images.map(\.role) == [.firstFrame])
        let two = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["https://example.com/a.png", "https://example.com/b.png"]}"#)
        #expect(two.images.map(\.role) == [.referenceImage, .referenceImage])
        let asset = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["asset://asset-20260318071009-abcde"]}"#)
        #expect(asset.images.map(\.role) == [.referenceImage])
        #expect(asset.assetIDs == ["asset-20260318071009-abcde"])
        let bounds = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 15, "seed": 4294967295, "resolution": "1080p"}"#)
        #expect(bounds.duration == 15 && bounds.seed == 4_294_967_295 && bounds.resolution == "1080p")
    }
}

@Suite("asset rules (pure)")
struct AssetRuleTests {
    static let names: [(String, String?)] = [
        ("a", nil), (String(repeating: "n", count: 64), nil), (String(repeating: "n", count: 65), "at most 64"),
        ("   ", "must not be empty"), (String(repeating: "名", count: 64), nil),
    ]

    @Test("asset names are 1 to 64 characters, counted as characters", arguments: names)
    func name(_ row: (String, String?)) {
        do {
            _ = try AssetRules.name(row.0, field: "assets[0].name")
            #expect(row.1 == nil)
        } catch {
            #expect(error.param == "assets[0].name")
            #expect(row.1.map(error.message.contains) == true, "\(error.message)")
        }
    }

    static let counts: [(Int, String?)] = [(0, "at least one"), (1, nil), (20, nil), (21, "at most 20")]

    @Test("a submission holds 1 to 20 assets", arguments: counts)
    func count(_ row: (Int, String?)) {
        do {
            try AssetRules.count(row.0, field: "assets")
            #expect(row.1 == nil)
        } catch {
            #expect(row.1.map(error.message.contains) == true, "\(error.message)")
        }
    }

    @Test("media types in any dialect's spelling; descriptions up to 300; project names 1 to 64")
    func typesAndTexts() throws {
        #expect(try AssetRules.mediaType("Image", field: "asset_type") == .image)
        #expect(try AssetRules.mediaType("VIDEO", field: "asset_type") == .video)
        #expect(try AssetRules.mediaType(nil, field: "asset_type", default: .audio) == .audio)
        #expect(throws: SeedgateError.self) { try AssetRules.mediaType("Picture", field: "asset_type") }
        #expect(throws: SeedgateError.self) { try AssetRules.mediaType(nil, field: "asset_type") }
        #expect(try AssetRules.description(String(repeating: "d", count: 300), field: "description").count == 300)
        #expect(throws: SeedgateError.self) { try AssetRules.description(String(repeating: "d", count: 301), field: "description") }
        #expect(try AssetRules.projectName(nil, field: "project_name") == "default")
        #expect(throws: SeedgateError.self) { try AssetRules.projectName("", field: "project_name") }
        #expect(AssetRules.defaultName(for: "https://example.com/a/b/photo%201.png?sig=x") == "photo 1.png")
    }
}
