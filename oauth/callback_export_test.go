package oauth

// HashStateForTest exposes hashState to the external tests, which store a
// connect request of another kind under a state they know.
var HashStateForTest = hashState
