#ifndef TELLTALE_CPCAP_SHIM_H
#define TELLTALE_CPCAP_SHIM_H
#include <pcap/pcap.h>
#include <linux/filter.h>
#endif
