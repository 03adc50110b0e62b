build-mc/obj/src/surface/mc_tables.o: src/surface/mc_tables.c \
 src/surface/mc_tables.h
src/surface/mc_tables.h:
