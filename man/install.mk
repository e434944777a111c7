# Man pages. Included by the top Makefile, which defines PREFIX and DESTDIR; paths are
# relative to the top of the tree.
#   make install-man [PREFIX=/usr/local] [DESTDIR=/tmp/stage]
MAN1_PAGES := man/mhookd.1 man/mhook.1

.PHONY: install-man
install-man: $(MAN1_PAGES)
	install -d -m 755 $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(MAN1_PAGES) $(DESTDIR)$(PREFIX)/share/man/man1/
