"""Partner API of customers: parse, validate with the form, call a service or selector."""

from django.forms.models import model_to_dict

from audit import selectors as audit_selectors
from audit.schemas import AUDIT_EVENT
from audit.serializers import event_json
from core.api.endpoint import ApiView, operation
from core.api.pagination import paginate
from core.forms import AsOfQueryForm
from customers import selectors, services
from customers.forms import (
    BeneficialOwnerQueryForm,
    CustomerFilterForm,
    CustomerForm,
    CustomerUpdateForm,
    RelationshipForm,
)
from customers.ownership import beneficial_owners
from customers.schemas import BENEFICIAL_OWNERS, CUSTOMER, RELATIONSHIP
from customers.serializers import customer_json, owner_json, relationship_json

TAGS = ("customers",)


class CustomerList(ApiView):
    @operation(
        operation_id="listCustomers",
        scope="customers:read",
        summary="List or search customers",
        query_form=CustomerFilterForm,
        response=CUSTOMER,
        paginated=True,
        tags=TAGS,
    )
    def get(self, request):
        filters = self.query(request, CustomerFilterForm)
        queryset = selectors.search_customers(**filters)
        ordering = selectors.SEARCH_ORDERING if filters["q"] else selectors.LIST_ORDERING
        rows, cursor = paginate(request, queryset, ordering=ordering)
        return {"data": [customer_json(c) for c in rows], "next_cursor": cursor}

    @operation(
        operation_id="createCustomer",
        scope="customers:write",
        summary="Create a customer",
        request_form=CustomerForm,
        response=CUSTOMER,
        status=201,
        idempotent=True,
        tags=TAGS,
    )
    def post(self, request):
        form = self.validate(CustomerForm(data=request.json))
        return customer_json(services.create_customer(**form.changes(), by=request.partner_key))


class CustomerDetail(ApiView):
    @operation(
        operation_id="getCustomer",
        scope="customers:read",
        summary="Read a customer (as it was at `as_of`, if given)",
        query_form=AsOfQueryForm,
        response=CUSTOMER,
        tags=TAGS,
    )
    def get(self, request, ref):
        as_of = self.query(request, AsOfQueryForm)["as_of"]
        if as_of is not None:
            return customer_json(selectors.get_customer_as_of(ref, as_of))
        return customer_json(selectors.get_customer(ref))

    @operation(
        operation_id="updateCustomer",
        scope="customers:write",
        summary="Update a customer (fields sent only; status and kyc_status by their rules)",
        request_form=CustomerUpdateForm,
        partial=True,
        response=CUSTOMER,
        errors=(409, 422),
        tags=TAGS,
    )
    def patch(self, request, ref):
        customer = selectors.get_customer(ref)
        current = model_to_dict(customer, fields=CustomerForm.Meta.fields)
        form = self.validate(
            CustomerUpdateForm(data={**current, **request.json}, instance=customer)
        )
        updated = services.update_customer(
            customer=customer, changes=form.changes(), by=request.partner_key
        )
        return customer_json(updated)

    @operation(
        operation_id="deleteCustomer",
        scope="customers:write",
        summary="Soft-delete a customer",
        status=204,
        errors=(409,),
        tags=TAGS,
    )
    def delete(self, request, ref):
        services.soft_delete_customer(customer=selectors.get_customer(ref), by=request.partner_key)


class RelationshipList(ApiView):
    @operation(
        operation_id="listRelationships",
        scope="customers:read",
        summary="Roles others hold towards this customer",
        response=RELATIONSHIP,
        paginated=True,
        tags=TAGS,
    )
    def get(self, request, ref):
        customer = selectors.get_customer(ref)
        rows, cursor = paginate(request, selectors.relationships_of(customer), ordering=("number",))
        return {"data": [relationship_json(r) for r in rows], "next_cursor": cursor}

    @operation(
        operation_id="addRelationship",
        scope="customers:write",
        summary="Add a relationship: `related_customer` holds `type` towards this customer",
        request_form=RelationshipForm,
        response=RELATIONSHIP,
        status=201,
        idempotent=True,
        tags=TAGS,
    )
    def post(self, request, ref):
        customer = selectors.get_customer(ref)
        form = self.validate(RelationshipForm(data=request.json, customer=customer))
        relationship = services.add_relationship(
            customer=customer, **form.cleaned_data, by=request.partner_key
        )
        return relationship_json(relationship)


class RelationshipDetail(ApiView):
    @operation(
        operation_id="endRelationship",
        scope="customers:write",
        summary="End (soft-delete) a relationship",
        status=204,
        errors=(409,),
        tags=TAGS,
    )
    def delete(self, request, ref, relationship_id):
        customer = selectors.get_customer(ref)
        relationship = selectors.get_relationship(customer, relationship_id)
        services.end_relationship(relationship=relationship, by=request.partner_key)


class BeneficialOwners(ApiView):
    @operation(
        operation_id="getBeneficialOwners",
        scope="customers:read",
        summary="Ultimate beneficial owners through any depth of ownership",
        query_form=BeneficialOwnerQueryForm,
        response=BENEFICIAL_OWNERS,
        errors=(422,),
        tags=TAGS,
    )
    def get(self, request, ref):
        threshold = self.query(request, BeneficialOwnerQueryForm)["threshold"]
        owners = beneficial_owners(company=selectors.get_customer(ref), threshold=threshold)
        return {"data": [owner_json(owner) for owner in owners]}


class CustomerHistory(ApiView):
    @operation(
        operation_id="getCustomerHistory",
        scope="customers:read",
        summary="This customer's audit trail (its relationships' changes included), newest "
        "first; a deleted customer's too",
        response=AUDIT_EVENT,
        paginated=True,
        tags=TAGS,
    )
    def get(self, request, ref):
        history = selectors.history_of(selectors.get_customer(ref, include_deleted=True))
        rows, cursor = paginate(request, history, ordering=audit_selectors.ORDERING)
        return {"data": [event_json(e) for e in rows], "next_cursor": cursor}
