"""Paper-agnostic neural-network blocks shared by the models (ST-GCN, relative attention, quantisers, U-Nets...)."""
