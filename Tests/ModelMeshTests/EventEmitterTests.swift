import Foundation
import Testing

@testable import ModelMesh

@Suite struct EventEmitterTests {
    @Test func eventTypeWireNames() {
        #expect(EventType.allCases.map(\.rawValue) == [
            "model_activated", "model_deactivated", "model_rotated", "provider_health_changed",
            "provider_deactivated", "provider_recovered", "pool_membership_changed", "discovery_models_updated",
        ])
    }
}
