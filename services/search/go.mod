module marquee/services/search

go 1.26

require marquee/pkg v0.0.0

replace marquee/pkg => ../../pkg
