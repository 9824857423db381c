import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

@Suite("The vendor catalogue: auto-detection and the built-in connectors read one table")
struct VendorCatalogueTests {
    /// A catalogue vendor and one of its detection variables.
    struct Detection: Sendable, CustomTestStringConvertible {
        var vendor: VendorCatalogue.Entry
        var variable: String
        var testDescription: String { "\(vendor.id) from \(variable)" }
    }

    static let detections: [Detection] = VendorCatalogue.entries.flatMap { vendor in
        vendor.detectionVariables.map { Detection(vendor: vendor, variable: $0) }
    }

    /// The base URL of `vendor` at `fake`, in its connector's convention.
    static func baseURL(of vendor: VendorCatalogue.Entry, at fake: FakeUpstream) -> String {
        vendor.family == .openAI ? fake.url("/v1") : fake.baseURL
    }

    /// The base URL a built connector uses.
    static func baseURL(of connector: any ProviderConnector) -> String? {
        (connector as? OpenAICompatibleProvider)?.baseURL ?? (connector as? AnthropicProvider)?.baseURL
            ?? (connector as? GeminiProvider)?.baseURL
    }

    @Test(
        "Every vendor is detected from its variable and builds a connector with the catalogue's base URL",
        arguments: detections)
    func detectedAndBuilt(_ detection: Detection) async throws {
        let vendor = detection.vendor
        let value = vendor.isLocal ? "127.0.0.1:9" : "key-0123456789"
        let providers = ProviderAutoDetection.detect(environment: [detection.variable: value])
        #expect(providers.map(\.id) == [vendor.id])
        let provider = try #require(providers.first)
        #expect(provider.connector == vendor.connectorID)
        if vendor.isLocal {
            #expect(provider.baseURL == "http://127.0.0.1:9")
            #expect(provider.apiKey == nil)
        } else {
            #expect(provider.apiKey?.value == value)
            #expect(provider.baseURL == nil)
        }

        let transport = HTTPTransport()
        let connector = try ProviderRegistry.builtIn(transport: transport).make(provider)
        if vendor.isLocal {
            #expect(Self.baseURL(of: connector) == "http://127.0.0.1:9/v1")
        } else {
            #expect(Self.baseURL(of: connector) == vendor.defaultBaseURL)
        }
        try await transport.shutdown()
    }

    @Test(
        "Every detected vendor's connector works against its wire format: model list and, with models, a chat",
        arguments: detections)
    func detectedConnectorWorks(_ detection: Detection) async throws {
        let vendor = detection.vendor
        try await Harness.run { h in
            // A local vendor's host is the fake; a cloud vendor is sent there by its base-URL variable.
            var environment = [detection.variable: vendor.isLocal ? h.fake.baseURL : Harness.apiKey]
            if !vendor.isLocal, let variable = vendor.baseURLVariables.first {
                environment[variable] = Self.baseURL(of: vendor, at: h.fake)
            }
            let configuration = try #require(BuiltInProviders.autodetectedConfiguration(environment: environment))
            let provider = try #require(configuration.providers.first)
            let connector = try ProviderRegistry.builtIn(transport: h.transport).make(provider)
            #expect(Self.baseURL(of: connector) == Self.baseURL(of: vendor, at: h.fake))

            switch vendor.family {
            case .openAI:
                h.fake.enqueue(.json(#"{"object":"list","data":[{"id":"listed-model"}]}"#), for: "/v1/models")
            case .anthropic:
                h.fake.enqueue(.anthropicModelList(["listed-model"]), for: "/v1/models")
            case .gemini:
                h.fake.enqueue(.geminiModelList([("listed-model", 1000)]), for: "/v1beta/models")
            }
            #expect(try await connector.listModels().map(\.id) == ["listed-model"])
            let listing = try #require(h.fake.lastRequest)
            switch vendor.family {
            case .openAI:
                #expect(listing.header("authorization") == (vendor.isLocal ? nil : "Bearer \(Harness.apiKey)"))
            case .anthropic:
                #expect(listing.header("x-api-key") == Harness.apiKey)
            case .gemini:
                #expect(listing.query?.contains("key=\(Harness.apiKey)") == true)
            }

            guard let model = vendor.models.first else { return }
            let path: String
            switch vendor.family {
            case .openAI:
                path = "/v1/chat/completions"
                h.fake.enqueue(.openAIChatCompletion(content: "from \(vendor.id)", model: model.wireName), for: path)
            case .anthropic:
                path = "/v1/messages"
                h.fake.enqueue(.anthropicMessage(text: "from \(vendor.id)", model: model.wireName), for: path)
            case .gemini:
                path = "/v1beta/models/\(model.wireName):generateContent"
                h.fake.enqueue(.geminiResponse(text: "from \(vendor.id)"), for: path)
            }
            var meshConfiguration = configuration
            meshConfiguration.observability.connectors = []
            let mesh = try Mesh(configuration: meshConfiguration, providers: .builtIn(transport: h.transport))
            let answer = try await mesh.route(Harness.request(model: "\(vendor.id).\(model.name)"))
            #expect(answer.value.text == "from \(vendor.id)")
            let chat = try #require(h.fake.lastRequest)
            #expect(chat.path == path)
            if vendor.family != .gemini { #expect(chat.json?["model"] == .string(model.wireName)) }
        }
    }

    @Test("Auto-detection's registry is the catalogue, in its order, with its models")
    func registryIsTheCatalogue() {
        let registry = ProviderAutoDetection.registry
        #expect(registry.map(\.name) == VendorCatalogue.entries.map(\.id))
        #expect(registry.map(\.connector) == VendorCatalogue.entries.map(\.connectorID))
        #expect(registry.map(\.variables) == VendorCatalogue.entries.map(\.detectionVariables))
        for (entry, vendor) in zip(registry, VendorCatalogue.entries) {
            #expect(entry.models.map(\.id) == vendor.models.map { "\(vendor.id).\($0.name)" })
            #expect(entry.models.map(\.name) == vendor.models.map(\.wireName))
        }
    }

    @Test("The connectors built in are the catalogue's, and the configuration accepts each of them")
    func connectorsAreTheCatalogues() {
        let catalogued = Set(VendorCatalogue.entries.flatMap(\.connectorIDs))
        #expect(BuiltInProviders.connectorIDs == catalogued.union([OpenAICompatibleVendor.generic.connectorID]))
        #expect(catalogued.isSubset(of: ConnectorID.providerConnectors))
        #expect(
            Set(OpenAICompatibleVendor.all.map(\.connectorID))
                == Set(VendorCatalogue.entries.filter { $0.family == .openAI }.map(\.connectorID)).union([
                    OpenAICompatibleVendor.generic.connectorID
                ]))
        #expect(VendorCatalogue.anthropic.connectorIDs.contains(AnthropicProvider.aliasConnectorID))
        #expect(VendorCatalogue.vendor(forConnector: "provider.anthropic.llm.v1")?.id == "anthropic")
        #expect(VendorCatalogue.vendor(named: "gemini")?.id == "google")
    }

    @Test("The OpenAI-compatible vendor table takes base URLs and variables from the catalogue")
    func vendorTableMatches() throws {
        for vendor in VendorCatalogue.entries where vendor.family == .openAI {
            let table = try #require(OpenAICompatibleVendor.vendor(forConnector: vendor.connectorID))
            #expect(table.name == vendor.id)
            #expect(table.defaultBaseURL == vendor.defaultBaseURL)
            #expect(table.apiKeyVariable == vendor.apiKeyVariables.first)
            #expect(table.hostVariable == vendor.hostVariable)
            #expect(table.isLocal == vendor.isLocal)
        }
        #expect(AnthropicProvider.defaultBaseURL == VendorCatalogue.anthropic.defaultBaseURL)
        #expect(GeminiProvider.defaultBaseURL == VendorCatalogue.google.defaultBaseURL)
    }

    @Test("Every model auto-detection configures is one the connector's vendor table knows, with the same window")
    func detectedModelsAreKnown() throws {
        for vendor in VendorCatalogue.entries {
            for model in vendor.models {
                let known = BuiltInProviders.defaultModel(connector: vendor.connectorID, wireName: model.wireName)
                #expect(known != nil, "\(vendor.id): \(model.wireName)")
                if let window = known?.contextWindow {
                    #expect(window == model.contextWindow, "\(vendor.id): \(model.wireName)")
                }
            }
        }
    }
}
