import Testing
@testable import MLService
