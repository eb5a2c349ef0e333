package drill

// Transactions lets the fault tests (package drill_test) count a trace's
// transactions as the ordersPoolExhausted drill does.
var Transactions = transactions
