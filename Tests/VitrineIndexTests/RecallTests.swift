import Testing
@testable import VitrineIndex
