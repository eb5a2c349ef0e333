package shipping

import "github.com/otelshop/shop/services/orders"

// quote is what a shipment costs and how it goes.
type quote struct {
	carrier string
	cents   int64
	units   int
}

// quoteFor prices a shipment: by destination, plus per unit beyond the first, free
// at home for orders of $150 or more.
func quoteFor(ev orders.OrderPlaced) quote {
	q := quote{}
	for _, it := range ev.Items {
		q.units += it.Quantity
	}
	switch country := ev.ShippingAddress.Country; {
	case country == "US":
		q.carrier, q.cents = "ground", 499
		if ev.TotalCents >= 15_000 {
			q.cents = 0
			return q
		}
	case euCountries[country]:
		q.carrier, q.cents = "euro-express", 1299
	default:
		q.carrier, q.cents = "world-post", 2499
	}
	q.cents += int64(q.units-1) * 99
	return q
}

var euCountries = map[string]bool{"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true,
	"EE": true, "FI": true, "FR": true, "DE": true, "GR": true, "HU": true, "IE": true, "IT": true, "LV": true, "LT": true,
	"LU": true, "MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true, "SI": true, "ES": true, "SE": true}
