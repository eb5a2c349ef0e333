// Package demodata is the shop's demonstration catalogue: the products catalog seeds
// on first start and the stock inventory seeds for them. It is data both services start
// from, not a channel between them; after seeding each owns its copy.
package demodata

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// Product is one catalogue entry as seeded.
type Product struct {
	ID          string
	Name        string
	Description string
	Category    string
	PriceCents  int64
	ImageURL    string
	// Details is the long text of the product page (care, materials, delivery):
	// a couple of kilobytes, as real product pages have.
	Details string
}

type category struct {
	name       string
	nouns      []string
	minCents   int64
	spanCents  int64
	descriptor string
}

var adjectives = []string{"Classic", "Urban", "Trail", "Studio", "Nordic", "Vintage", "Compact", "Pro", "Everyday", "Coastal", "Summit", "Heritage", "Lumen", "Drift", "Atlas"}

var categories = []category{
	{"books", []string{"Field Guide", "Cookbook", "Novel", "Atlas", "Sketchbook"}, 899, 3500, "A well-bound edition, printed on recycled paper."},
	{"electronics", []string{"Headphones", "Speaker", "Charger", "Keyboard", "Webcam"}, 1999, 24000, "Tested for a long life, with a two-year warranty."},
	{"kitchen", []string{"Chef Knife", "Pour-Over Kettle", "Cast Iron Pan", "Mixing Bowls", "Coffee Grinder"}, 1299, 12000, "Built for daily cooking and easy cleaning."},
	{"outdoor", []string{"Tent", "Headlamp", "Daypack", "Water Filter", "Camp Stove"}, 1499, 30000, "Light enough to carry, tough enough to last."},
	{"clothing", []string{"Rain Jacket", "Wool Sweater", "Running Tee", "Chinos", "Beanie"}, 1499, 18000, "Made from durable, responsibly sourced fabric."},
	{"home", []string{"Desk Lamp", "Linen Throw", "Plant Pot", "Wall Clock", "Storage Basket"}, 999, 9000, "Simple design that fits any room."},
	{"toys", []string{"Building Set", "Puzzle", "Wooden Train", "Kite", "Board Game"}, 799, 7000, "Safety-tested and made to be played with."},
	{"sports", []string{"Yoga Mat", "Jump Rope", "Kettlebell", "Tennis Racket", "Cycling Gloves"}, 999, 15000, "Designed with coaches, ready for training."},
}

// ProductsPerCategory × len(categories) products are seeded: 120.
const ProductsPerCategory = 15

// Products returns the seeded catalogue, the same on every call and every machine.
func Products() []Product {
	products := make([]Product, 0, len(categories)*ProductsPerCategory)
	n := 0
	for _, c := range categories {
		for i := 0; i < ProductsPerCategory; i++ {
			n++
			adj := adjectives[(i+len(c.name))%len(adjectives)]
			noun := c.nouns[i%len(c.nouns)]
			id := fmt.Sprintf("SKU-%05d", n)
			products = append(products, Product{
				ID:          id,
				Name:        fmt.Sprintf("%s %s", adj, noun),
				Description: fmt.Sprintf("The %s %s. %s", adj, noun, c.descriptor),
				Category:    c.name,
				PriceCents:  c.minCents + int64(spread(id)%uint32(c.spanCents/100))*100,
				ImageURL:    fmt.Sprintf("https://images.shop.example/products/%s.jpg", id),
				Details:     details(id, adj, noun),
			})
		}
	}
	return products
}

// detailSentences make up the product pages' long texts; %[1]s is the
// adjective, %[2]s the noun.
var detailSentences = []string{
	"Every %[1]s %[2]s is inspected by hand before it leaves the workshop, and a card signed by the person who checked it comes in the box.",
	"The %[2]s is designed to be repaired rather than replaced: spare parts are listed on the support page and ship within two working days.",
	"Materials are sourced from suppliers audited every year for fair working conditions and for the environmental impact of their production.",
	"Packaging is made from recycled cardboard and paper tape, with no plastic film, and can go straight into household recycling.",
	"Delivery within the country takes two to four working days; international orders take five to ten, depending on customs.",
	"Returns are free for thirty days: keep the original packaging, print the label from your order page and drop the parcel at any carrier point.",
	"Our %[1]s range was first introduced after three years of testing with customers who used the prototypes every day and told us what to change.",
	"Care: wipe with a soft, slightly damp cloth; avoid abrasive cleaners and long exposure to direct sunlight, which fades the finish over time.",
	"The warranty covers manufacturing defects for two years from delivery; register the %[2]s on the support page to extend it by a third year.",
	"Dimensions and weights are measured on production samples and may vary by a few percent, as with every product made from natural materials.",
	"Customers often pair the %[2]s with other pieces of the %[1]s range, which share its colours and finishes and are designed to be used together.",
	"Questions about sizing, compatibility or availability are answered by our support team within one working day, in English, German or French.",
	"A share of every sale of the %[1]s %[2]s goes to community repair cafés, which keep useful things in use and out of landfill.",
	"Stock shown on the product page is updated as orders are placed; when an item sells out, you can ask to be told as soon as it is back.",
	"Prices include value added tax where it applies; business customers can download an invoice with the tax shown separately from their account.",
	"The colours in the photographs are as close to the real %[2]s as a screen allows; the sample swatch service sends fabric and finish samples for free.",
}

// details is a product's long text: most of the sentences, in an order of its own.
func details(id, adj, noun string) string {
	var b strings.Builder
	start := int(spread(id+"details") % uint32(len(detailSentences)))
	for i := range len(detailSentences) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, detailSentences[(start+i*5)%len(detailSentences)], adj, strings.ToLower(noun))
	}
	return b.String()
}

// InitialStock is how many units of a product inventory starts with: between 20 and 500,
// so that some products sell out under load and most do not.
func InitialStock(productID string) int32 {
	return 20 + int32(spread(productID+"stock")%481)
}

func spread(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
